"""avrepro: rebuild audio-visual recognition papers from raw videos."""
