"""The demo world: procedural rooms, their predictor, and training and evaluating a generator on them.

Modules
-------
semantics
    What each score of a room means (:data:`~strata.engine.rooms.semantics.SEMANTICS`),
    :class:`~strata.engine.rooms.semantics.RoomParams`, drawing rooms at random.
render
    Rooms to images (:func:`~strata.engine.rooms.render.render_rooms`,
    :func:`~strata.engine.rooms.render.sample_rooms`), through ``layout``
    (where everything is) and ``shading`` (materials, lights, the ray cast).
predictor
    The ``"rooms"`` predictor: its network, file, training and evaluation. The
    discovery registry finds it by an entry point, never by import.
train, evaluate
    A StyleGAN trained on the rooms (``strata train``), and its quality (``strata evaluate``),
    with ``discriminator``, ``feature_d``, ``frequency_match``, ``widen`` and ``data_parallel``
    as their parts.

Nothing is imported here: ``import strata.engine.rooms`` stays cheap, and a module is loaded
only when it is used.
"""
