"""Plate detection and reading on masked frames (TFLite models trained by ``models/``).

``recognizer`` (detector, reader, country, grammar) reads plates in one image; ``tracker`` votes each
vehicle's reads to one ``VehiclePass``; ``service`` is the node's ANPR stage, ``publish`` and ``records``
turn passes into MQTT records per profile (police or LEZ), ``lists`` and ``hotlist`` hold the hotlists,
``clips`` exports a hit's event clip, ``stats`` counts the capture rate. See docs/anpr.md.
"""

PHOTO_FINER_LOOK = 4 / 3
"""The finer look ``edge anpr-eval`` and ``make bench`` give a photo whose best read is unsure
(``Recognizer(finer_look=…)``, ``edge anpr-eval --finer-look``; 0 turns it off). One photo is all a photo
set has; the node, which sees each vehicle in many frames, leaves it off by default (``anpr.finer_look``).
See docs/anpr.md."""
