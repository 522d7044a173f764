"""assistant: the one service API (grounded Q&A, Tcl generation, bug summaries) that the CLI, UI and Slack bot call."""
