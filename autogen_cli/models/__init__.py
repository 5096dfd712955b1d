"""Model families. Models never import the hub, the data or the rendering code."""
