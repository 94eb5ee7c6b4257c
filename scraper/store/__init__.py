"""The Store protocol, MongoDB (the only motor importer), the embedded store, export."""
