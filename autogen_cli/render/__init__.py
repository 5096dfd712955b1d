"""Pictures: PNG grids of images (and later SVG/PNG strokes, plots)."""
