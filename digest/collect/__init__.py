"""Collecting: sources (files, directories, globs, URLs) turned into paper records.

`locate` expands a source into the files and URLs it names, `fetch` reads a URL, `kinds`
tells a document's kind from its content and hands it to its reader (`dump`, `feed`,
`hf_api`): bytes in, `Parsed` out, no I/O. The order of these steps lives in
`digest.pipeline.collect`.
"""
