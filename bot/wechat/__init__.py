"""WeChat's wire format, once: the inbound protocol, the outbound API client, the fake API."""
