"""The server side of the app beyond its pages: `panel serve --plugins app.server.plugin` adds
GET /health and hardens what Panel and Bokeh serve (admission of new sessions, refused client
messages, login attempts)."""
