#!/usr/bin/env python3
"""scenes/models/make_models.py - writes the OBJ meshes the example scenes use.

    python3 scenes/models/make_models.py [OUT_DIR]     (default: this script's folder)

icosphere.obj  a unit sphere from a 3 times subdivided icosahedron (1280 triangles),
               vertex normals (v//vn faces)
torus.obj      a torus, ring radius 1, tube radius 0.3, as quads (v/vt/vn faces)
knot.obj       a (3, 2) torus knot tube (8192 triangles), negative (relative) indices

Everything is computed here; nothing is copied from elsewhere. The output is the same on
every run (fixed formatting), so the files in git only change when this script does.
"""
import math
import os
import sys


def fmt(x):
    s = "%.6f" % x
    return "0.000000" if s == "-0.000000" else s


def icosphere(levels):
    t = (1 + math.sqrt(5)) / 2
    verts = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0),
             (0, -1, t), (0, 1, t), (0, -1, -t), (0, 1, -t),
             (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
    verts = [normalize(v) for v in verts]
    faces = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11),
             (1, 5, 9), (5, 11, 4), (11, 10, 2), (10, 7, 6), (7, 1, 8),
             (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9),
             (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1)]
    for _ in range(levels):
        mid = {}

        def middle(a, b):
            key = (min(a, b), max(a, b))
            if key not in mid:
                va, vb = verts[a], verts[b]
                verts.append(normalize(((va[0] + vb[0]) / 2, (va[1] + vb[1]) / 2,
                                        (va[2] + vb[2]) / 2)))
                mid[key] = len(verts) - 1
            return mid[key]

        out = []
        for a, b, c in faces:
            ab, bc, ca = middle(a, b), middle(b, c), middle(c, a)
            out += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = out
    return verts, faces


def normalize(v):
    n = math.sqrt(v[0] ** 2 + v[1] ** 2 + v[2] ** 2)
    return (v[0] / n, v[1] / n, v[2] / n)


def write_icosphere(path):
    verts, faces = icosphere(3)
    with open(path, "w") as f:
        f.write("# icosphere.obj - unit sphere, icosahedron subdivided 3 times "
                "(scenes/models/make_models.py)\n")
        for v in verts:
            f.write("v %s %s %s\n" % tuple(fmt(c) for c in v))
        for v in verts:
            f.write("vn %s %s %s\n" % tuple(fmt(c) for c in v))
        for a, b, c in faces:
            f.write("f %d//%d %d//%d %d//%d\n" % (a + 1, a + 1, b + 1, b + 1, c + 1, c + 1))


def write_torus(path, ring=1.0, tube=0.3, nu=48, nv=24):
    with open(path, "w") as f:
        f.write("# torus.obj - ring radius 1, tube radius 0.3, around the y axis, quads "
                "(scenes/models/make_models.py)\n")
        for i in range(nu):
            u = 2 * math.pi * i / nu
            for j in range(nv):
                w = 2 * math.pi * j / nv
                x = (ring + tube * math.cos(w)) * math.cos(u)
                z = (ring + tube * math.cos(w)) * math.sin(u)
                y = tube * math.sin(w)
                f.write("v %s %s %s\n" % (fmt(x), fmt(y), fmt(z)))
                f.write("vn %s %s %s\n" % (fmt(math.cos(w) * math.cos(u)), fmt(math.sin(w)),
                                           fmt(math.cos(w) * math.sin(u))))
                f.write("vt %s %s\n" % (fmt(i / nu), fmt(j / nv)))
        f.write("o torus\ns 1\n")
        for i in range(nu):
            for j in range(nv):
                a = i * nv + j + 1
                b = ((i + 1) % nu) * nv + j + 1
                c = ((i + 1) % nu) * nv + (j + 1) % nv + 1
                d = i * nv + (j + 1) % nv + 1
                f.write("f %d/%d/%d %d/%d/%d %d/%d/%d %d/%d/%d\n" %
                        (a, a, a, d, d, d, c, c, c, b, b, b))


def knot_point(s, p=3, q=2):
    r = 1 + 0.45 * math.cos(q * s)
    return (r * math.cos(p * s), 0.45 * math.sin(q * s), r * math.sin(p * s))


def sub(a, b):
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def cross(a, b):
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def write_knot(path, n=256, m=16, radius=0.16):
    """A tube along the knot; each ring written with its faces right after it, so the
    faces use relative indices (-1 is the last vertex written)."""
    rings = []
    for i in range(n):
        s = 2 * math.pi * i / n
        c = knot_point(s)
        tangent = normalize(sub(knot_point(s + 1e-4), knot_point(s - 1e-4)))
        side = normalize(cross(tangent, (0, 1, 0)))
        up = cross(side, tangent)
        ring = []
        for j in range(m):
            w = 2 * math.pi * j / m
            nrm = tuple(math.cos(w) * side[k] + math.sin(w) * up[k] for k in range(3))
            ring.append((tuple(c[k] + radius * nrm[k] for k in range(3)), nrm))
        rings.append(ring)
    with open(path, "w") as f:
        f.write("# knot.obj - a (3, 2) torus knot tube, relative indices "
                "(scenes/models/make_models.py)\n")
        # all positions and normals first, then faces counting back from the end
        for ring in rings:
            for pos, nrm in ring:
                f.write("v %s %s %s\n" % tuple(fmt(c) for c in pos))
                f.write("vn %s %s %s\n" % tuple(fmt(c) for c in nrm))
        total = n * m
        for i in range(n):
            for j in range(m):
                a = i * m + j
                b = ((i + 1) % n) * m + j
                c = ((i + 1) % n) * m + (j + 1) % m
                d = i * m + (j + 1) % m
                ra, rb, rc, rd = (k - total for k in (a, b, c, d))
                f.write("f %d//%d %d//%d %d//%d\n" % (ra, ra, rb, rb, rc, rc))
                f.write("f %d//%d %d//%d %d//%d\n" % (ra, ra, rc, rc, rd, rd))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    write_icosphere(os.path.join(out, "icosphere.obj"))
    write_torus(os.path.join(out, "torus.obj"))
    write_knot(os.path.join(out, "knot.obj"))


if __name__ == "__main__":
    main()
