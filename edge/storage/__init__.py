"""The recorder: H.264 segments sealed to the central key, the ring buffer, retention and legal holds.

Not built yet: the fan-out already has the slot for it (every-frame policy). ``node.state_dir`` is
where it will keep its data; health already reports that filesystem's use.
"""
