package console

// statementsRoutes are the routes of the Statements page(s): a stub until that page is
// built. Return the page's routes (each with its permission); its template
// goes in templates/statements*.html and its nav entry is already in navItems.
func (c *Console) statementsRoutes() []route { return nil }
