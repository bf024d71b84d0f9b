"""AI copilot providers: the interface, an OpenAI-compatible client and the offline rules."""
