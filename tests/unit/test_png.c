#define _DEFAULT_SOURCE
/* PNG decoding of every colour type and PIL-exact resizing, against files
 * made by PIL (tests/golden/make_png_golden.py); PNG write/read round trip;
 * float conversion as torchvision's ToTensor (x / 255). */
#include "sp_test.h"
#include "sp_image.h"
#include "sp_error.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DIR "tests/golden/png/"

static uint16_t *read_u16(const char *name, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, DIR "%s.u16", name);
    FILE *f = fopen(path, "rb");
    uint16_t *v = calloc(n, 2);
    if (!f || fread(v, 2, n, f) != n) {
        free(v);
        v = NULL;
    }
    if (f)
        fclose(f);
    return v;
}

static void decode_case(const char *name, int h, int w, int c)
{
    char path[256], tname[300];
    snprintf(path, sizeof path, DIR "%s.png", name);
    sp_image im = sp_png_read(path);
    uint16_t *want = read_u16(name, (size_t)h * w * c);
    int same = want && im.h == h && im.w == w && im.c == c;
    for (size_t i = 0; same && i < (size_t)h * w * c; i++)
        same = im.px[i] == want[i];
    snprintf(tname, sizeof tname, "png decode %s", name);
    CHECK(tname, same, "got %dx%dx%d, differs from PIL", im.h, im.w, im.c);
    free(want);
    sp_image_free(&im);
}

static void labels_case(const char *name, int h, int w)
{
    char path[256], tname[300];
    snprintf(path, sizeof path, DIR "%s.png", name);
    sp_tensor *t = sp_png_read_labels(path);
    uint16_t *want = read_u16(name, (size_t)h * w);
    int same = want && t->shape[0] == h && t->shape[1] == w;
    for (size_t i = 0; same && i < (size_t)h * w; i++)
        same = sp_i32(t)[i] == want[i];
    snprintf(tname, sizeof tname, "png labels %s", name);
    CHECK(tname, same, "ids differ from the stored ones");
    free(want);
    sp_tensor_free(t);
}

static void resize_case(const char *kind, const char *in, const char *out, int h, int w)
{
    char pin[256], pout[256], tname[400];
    snprintf(pin, sizeof pin, DIR "%s.png", in);
    snprintf(pout, sizeof pout, DIR "%s.png", out);
    sp_image a = sp_png_read(pin), want = sp_png_read(pout);
    sp_image got = strcmp(kind, "bilinear") == 0 ? sp_image_resize_bilinear(&a, h, w)
                                                 : sp_image_resize_nearest(&a, h, w);
    int diff = 0, maxd = 0;
    if (got.h != want.h || got.w != want.w || got.c != want.c) {
        diff = -1;
    } else {
        for (size_t i = 0; i < (size_t)h * w * got.c; i++) {
            int d = abs((int)got.px[i] - (int)want.px[i]);
            diff += d != 0;
            maxd = d > maxd ? d : maxd;
        }
    }
    snprintf(tname, sizeof tname, "resize %s %s (exact, as PIL)", kind, in);
    CHECK(tname, diff == 0, "%d samples differ (max %d)", diff, maxd);
    sp_image_free(&a);
    sp_image_free(&want);
    sp_image_free(&got);
}

static void roundtrip(void)
{
    char path[] = "/tmp/sp-test-png-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    uint8_t px[3 * 4 * 3];
    for (int i = 0; i < 36; i++)
        px[i] = (uint8_t)(i * 7);
    sp_png_write(path, px, 3, 4, 3);
    sp_image im = sp_png_read(path);
    int same = im.h == 3 && im.w == 4 && im.c == 3 && im.depth == 8;
    for (int i = 0; same && i < 36; i++)
        same = im.px[i] == px[i];
    CHECK("png write/read round trip", same, "differs");
    float f[36];
    sp_image_to_f32(&im, f);
    /* CHW order and x / 255 exactly (pixel (0,1) channel 2 = px[5]). */
    CHECK("to_f32 is CHW and x/255", f[2 * 12 + 1] == (float)px[5] / 255.0f && f[0] == 0.0f,
          "got %g", f[2 * 12 + 1]);
    sp_image g = sp_image_to_channels(&im, 1);
    int luma = (px[0] * 19595 + px[1] * 38470 + px[2] * 7471 + 0x8000) >> 16;
    CHECK("to 1 channel is PIL's L", g.c == 1 && g.px[0] == luma, "got %d want %d", g.px[0], luma);
    sp_image_free(&g);
    sp_image_free(&im);
    unlink(path);
}

int main(void)
{
    sp_set_prog("test_png");
    FILE *f = fopen(DIR "cases.txt", "r");
    CHECK("png golden manifest", f != NULL, "missing " DIR "cases.txt");
    if (!f)
        return 1;
    char kind[32], a[128], b[128], c[128];
    int n = 0;
    while (fscanf(f, "%31s", kind) == 1) {
        int h, w, ch;
        if (strcmp(kind, "decode") == 0 && fscanf(f, "%127s %d %d %d", a, &h, &w, &ch) == 4)
            decode_case(a, h, w, ch);
        else if (strcmp(kind, "labels") == 0 && fscanf(f, "%127s %d %d", a, &h, &w) == 3)
            labels_case(a, h, w);
        else if (strcmp(kind, "resize") == 0 && fscanf(f, "%127s %127s %127s %d %d", c, a, b, &h, &w) == 5)
            resize_case(c, a, b, h, w);
        else
            break;
        n++;
    }
    fclose(f);
    CHECK("png golden cases read", n == 18, "%d cases", n);
    roundtrip();
    TEST_MAIN_END;
}
