"""Plate detection and reading on masked frames (TFLite models trained by ``models/``).

``recognizer`` (detector, reader, country, grammar) reads plates in one image; ``tracker`` votes each
vehicle's reads to one ``VehiclePass``; ``service`` is the node's ANPR stage, ``publish`` and ``records``
turn passes into MQTT records per profile (police or LEZ), ``lists`` and ``hotlist`` hold the hotlists,
``clips`` exports a hit's event clip, ``stats`` counts the capture rate. See docs/anpr.md.
"""

PHOTO_FINER_LOOK = 4 / 3
"""The finer-look factor the model cards report beside the plain figures (``Recognizer(finer_look=…)``,
``edge anpr-eval --finer-look``). Off by default, in the node and in ``edge anpr-eval`` alike: whether it
helps depends on the detector (docs/anpr.md)."""
