"""The one agent core every front door translates onto: instructions, attachments, context composition, history
trimming and the bounded server-side tool loop."""
