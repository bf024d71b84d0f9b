"""HTTP and WebSocket edges: validate input, call services, shape responses."""
