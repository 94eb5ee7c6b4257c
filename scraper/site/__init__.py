"""What the site is and how its pages read: profiles, selector files, extraction. Pure."""
