"""portrisk: streaming smuggling-risk scoring for the Dutch mainports.

This package is the composition root (settings, CLI, metrics, logging). It imports every other
package; the leaf module :mod:`portrisk.errors` is the one piece every package may import.
"""

__version__ = "0.1.0"
