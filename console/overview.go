package console

import "net/http"

// overviewRoutes serve the overview (/console/).
func (c *Console) overviewRoutes() []route {
	return []route{{Pattern: "GET " + Prefix + "/{$}", Handler: c.overview}}
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "overview.html", "Overview", nil)
}
