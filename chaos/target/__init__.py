"""What a run is played against: a live orchestrator (real processes, target.live) or a simulated one (in this process, on a virtual clock, target.sim), answering the same questions."""
