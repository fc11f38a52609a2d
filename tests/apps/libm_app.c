/* Prints libm results at many arguments in hexadecimal: bit-exact, so another libm shows up. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: libm_app INPUT OUTDIR\n"); return 2; }
    FILE *in = fopen(argv[1], "r");
    double x0 = 1.0;
    if (!in || fscanf(in, "%*s %lf", &x0) != 1) { fprintf(stderr, "cannot read %s\n", argv[1]); return 2; }
    fclose(in);
    char path[4096];
    snprintf(path, sizeof path, "%s/result.json", argv[2]);
    FILE *out = fopen(path, "w");
    double s_exp = 0, s_tg = 0, s_cb = 0, s_er = 0, s_lg = 0, s_as = 0, s_pw = 0;
    for (int i = 1; i <= 20000; i++) {
        float xf = (float)(x0 * i / 20000.0);
        s_exp += expf(xf / 8); s_tg += tgammaf(1 + xf / 50); s_cb += cbrtf(xf); s_er += erfcf(xf / 10);
        s_lg += lgammaf(1 + xf); s_as += asinhf(xf); s_pw += powf(xf, 1.37f);
    }
    fprintf(out, "{\"expf\": %.17g, \"tgammaf\": %.17g, \"cbrtf\": %.17g, \"erfcf\": %.17g, \"lgammaf\": %.17g, \"asinhf\": %.17g, \"powf\": %.17g}\n",
            s_exp, s_tg, s_cb, s_er, s_lg, s_as, s_pw);
    fclose(out);
    return 0;
}
