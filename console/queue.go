package console

// queueRoutes serve the open items (/console/discrepancies).
func (c *Console) queueRoutes() []route { return nil }

// discrepancyQueue is what the open items read and change.
type discrepancyQueue interface{}

func (c *Console) newQueue() discrepancyQueue { return nil }
