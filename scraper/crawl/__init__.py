"""The stages of one job: a catalogue page, a video, its media, a revisit, shared context."""
