"""The government web portal published as a static site: pages, indexes, Atom feed, sitemap."""
