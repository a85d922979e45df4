package center

// automations runs the automations whose trigger is the event.
func (h *handler) automations() error { return nil }
