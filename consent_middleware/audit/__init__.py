"""The real-browser audit: `consent-middleware audit URL` and `suggest-config URL`."""
