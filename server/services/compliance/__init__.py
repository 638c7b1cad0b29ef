"""The charter in the services, by concern; `server.services.charter` gathers their public names."""
