# Buck2 needs a prelude cell; these rules use only the built-in API.
