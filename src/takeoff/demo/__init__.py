"""The demo workspace: `seed` fills it through the API, `app` is the demo's own AI app, `targets` its eval targets."""
