"""The pipeline: the only place that knows the order of the stages.

`collect` reads sources into the state, `pick` ranks one reader's papers, `preview`
renders one email without sending it, `send` runs an edition's send (claim, rank,
render, send, record), `schedule` runs collect and send at each subscriber's hour, and
`stopping` turns SIGTERM and Ctrl-C into a request to stop between messages.
"""
