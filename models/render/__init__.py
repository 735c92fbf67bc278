"""Drawing: OpenPose skeletons and their colours, the virtual camera, 3D motion views, normal-map
rasterising (``normal_raster``) of solid shapes with exact ray hits (``normal_shapes``) and the body/hand
normal maps built on them (``normal_maps``)."""
