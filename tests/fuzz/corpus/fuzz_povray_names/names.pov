#include "colors.inc"
/* #include "no.inc" */ // png "no.png"
plane { y, 0 pigment { image_map { png "wood.png" } } }
text { ttf "timrom.ttf" "UDCS" 0.1, 0 }
#include "a\"b.inc"
