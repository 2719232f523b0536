"""The iBFT: byte layout, decoder, encoder and the places a running system keeps it."""
