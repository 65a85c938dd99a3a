"""The operator dashboard at /dashboard: master-key sign-in, session cookie, static pages.

    routes.py     sign-in, sign-out, the app shell, static assets, security headers
    throttle.py   slows down repeated wrong master keys per client address
    templates/    the two server-rendered pages (sign-in, app shell)
    static/       CSS, one ES module per page (js/), vendored uPlot (vendor/)

The pages call the admin API (/admin) with the session cookie; this package serves no data.
"""
