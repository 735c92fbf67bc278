"""Drawing: OpenPose skeletons and their colours, the virtual camera, 3D motion views, normal-map
rasterising (``normal_raster``) and the body/hand normal maps built on it (``normal_maps``)."""
