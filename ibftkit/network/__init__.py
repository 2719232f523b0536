"""The network a boot configuration needs: links, the plan, applying it, early link-up."""
