"""Brand mentions: import (API, CSV, CLI) and the mentions report beside Direct traffic and word of mouth."""
