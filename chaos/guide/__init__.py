"""The troubleshooting guide: its items with stable ids (catalogue) and which of them the scenarios prove (coverage)."""
