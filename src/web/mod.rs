//! The browser UI (); see its issue.
