# An empty lock file: the component uses no provider; it gives the component its .lock target.
