"""The publishing bot core: config, sources, render, release, store, dispatch, scheduler, audit, CLI."""
