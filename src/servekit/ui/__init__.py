"""The web page at /ui: sign in, predict with a form made from each model, feedback, live charts."""
