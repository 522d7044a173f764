"""ui: the Chainlit chat app for engineers (a thin client of the assistant service API)."""
