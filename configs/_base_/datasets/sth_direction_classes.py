# Something-Something classes whose mirror image is another class: the MSNet recipe never flips
# them (the released code's transforms.py, GroupRandomHorizontalFlip2, as ids 86, 87, 93, 94, 166
# and 167 of the sorted class list). Named here, and looked up in the dataset's label map when the
# pipeline is built, because their ids depend on how the lists number the classes (2, 4, 30, 41,
# 52, 66 in V1's labels-file order). V1 and V2 use the same names.
direction_classes = (
    'Pulling something from left to right',
    'Pulling something from right to left',
    'Pushing something from left to right',
    'Pushing something from right to left',
    'Turning the camera left while filming something',
    'Turning the camera right while filming something',
)
