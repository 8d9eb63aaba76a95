"""The one agent core every front door translates onto: instructions, attachments, context composition, history
trimming, the turn planner (pure) and the bounded server-side tool loop over a Responses backend."""
