"""Plate detection and reading on masked frames (TFLite models trained by ``models/``).

``recognizer`` (detector, reader, country, grammar) reads plates in one image; ``tracker`` votes each
vehicle's reads to one ``VehiclePass``; ``service`` is the node's ANPR stage, ``publish`` and ``records``
turn passes into MQTT records per profile (police or LEZ), ``lists`` and ``hotlist`` hold the hotlists,
``clips`` exports a hit's event clip, ``stats`` counts the capture rate. See docs/anpr.md.
"""

PHOTO_FINER_LOOK = 4 / 3
"""The ``finer_look`` of ``edge anpr-eval`` and the benchmark on photos (``Recognizer``): a photo has no
next frame to read its plate again in, so an unsure one gets a second detection at 4/3 the long side."""
