"""Icons, style sheets and the browser tracker files."""
