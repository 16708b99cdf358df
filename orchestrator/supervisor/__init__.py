"""The supervisor: holds client connections and replaces worker processes behind them."""
