"""The site's JSON(P) endpoints (play info, comments) and the tokens the browser yields."""
