/* Prompt parsing: the CLI syntax and JSON prompt files, good and bad. */
#include <math.h>
#include <stdio.h>

#include "samem/model.h"
#include "test.h"

int main(void) {
    sm_error err = {0};
    sm_prompt p;
    SM_CHECK("box parses", sm_prompt_parse_box("3:10,20.5,40,60", 7, &p, &err) == 0);
    SM_CHECK("box fields", p.kind == SM_PROMPT_BOX && p.object_id == 3 && p.frame == 7 && p.x0 == 10 && p.y0 == 20.5 &&
                               p.x1 == 40 && p.y1 == 60);
    SM_CHECK("box corners in any order", sm_prompt_parse_box("1:40,60,10,20", 0, &p, &err) == 0 && p.x0 == 10 && p.y1 == 60);
    SM_CHECK("box without id rejected", sm_prompt_parse_box("10,20,40,60", 0, &p, &err) == SM_EUSAGE);
    SM_CHECK("box with 3 numbers rejected", sm_prompt_parse_box("1:10,20,40", 0, &p, &err) == SM_EUSAGE);
    SM_CHECK("box with trailing text rejected", sm_prompt_parse_box("1:10,20,40,60x", 0, &p, &err) == SM_EUSAGE);
    SM_CHECK("box id 0 rejected", sm_prompt_parse_box("0:10,20,40,60", 0, &p, &err) == SM_EUSAGE);
    SM_CHECK("box id 65536 rejected", sm_prompt_parse_box("65536:10,20,40,60", 0, &p, &err) == SM_EUSAGE);
    SM_CHECK("empty box rejected", sm_prompt_parse_box("1:10,20,10,60", 0, &p, &err) == SM_EUSAGE);
    SM_CHECK("nan rejected", sm_prompt_parse_box("1:nan,20,10,60", 0, &p, &err) == SM_EUSAGE);
    SM_CHECKF("error names the text", strstr(err.msg, "1:nan,20,10,60") != NULL, "%s", err.msg);
    SM_CHECK("point parses", sm_prompt_parse_point("2:5.5,6", 1, &p, &err) == 0 && p.kind == SM_PROMPT_POINT &&
                                 p.object_id == 2 && p.x == 5.5 && p.y == 6 && !p.negative && p.frame == 1);
    SM_CHECK("negative point", sm_prompt_parse_point("2:5,6:neg", 0, &p, &err) == 0 && p.negative);
    SM_CHECK("explicit positive point", sm_prompt_parse_point("2:5,6:pos", 0, &p, &err) == 0 && !p.negative);
    SM_CHECK("point with bad suffix rejected", sm_prompt_parse_point("2:5,6:maybe", 0, &p, &err) == SM_EUSAGE);
    SM_CHECK("point with one number rejected", sm_prompt_parse_point("2:5", 0, &p, &err) == SM_EUSAGE);

    char path[4096];
    sm_test_tmp_path(path, sizeof path, "prompts.json");
    FILE *fp = fopen(path, "w");
    fprintf(fp, "{\"prompts\": [{\"id\": 1, \"frame\": 4, \"box\": [30, 40, 10, 20]},"
                " {\"id\": 2, \"point\": [5, 6]}, {\"id\": 2, \"point\": [7, 8], \"label\": 0},"
                " {\"id\": 3, \"point\": [1, 2], \"negative\": true}]}");
    fclose(fp);
    sm_prompt *ps;
    int n;
    SM_CHECKF("json prompts read", sm_prompts_read_json(path, &ps, &n, &err) == 0, "%s", err.msg);
    SM_CHECK("json count", n == 4);
    SM_CHECK("json box", ps[0].kind == SM_PROMPT_BOX && ps[0].frame == 4 && ps[0].x0 == 10 && ps[0].x1 == 30 && ps[0].y0 == 20);
    SM_CHECK("json point default frame 0", ps[1].kind == SM_PROMPT_POINT && ps[1].frame == 0 && ps[1].x == 5 && !ps[1].negative);
    SM_CHECK("json label 0 is negative", ps[2].negative);
    SM_CHECK("json negative true", ps[3].negative && ps[3].object_id == 3);
    free(ps);
    /* a bare list works too; errors name the file */
    fp = fopen(path, "w");
    fprintf(fp, "[{\"id\": 1, \"box\": [1, 2, 3, 4]}]");
    fclose(fp);
    SM_CHECK("json bare list", sm_prompts_read_json(path, &ps, &n, &err) == 0 && n == 1);
    free(ps);
    const char *bad[] = {"{\"prompts\": 3}", "[{\"id\": 0, \"box\": [1,2,3,4]}]", "[{\"id\": 1}]",
                         "[{\"id\": 1, \"box\": [1,2,3]}]", "[{\"id\": 1, \"point\": [1,2], \"box\": [1,2,3,4]}]",
                         "[{\"id\": 1.5, \"point\": [1,2]}]", "not json", "[{\"id\": 1, \"frame\": -1, \"point\": [1,2]}]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fp = fopen(path, "w");
        fputs(bad[i], fp);
        fclose(fp);
        char name[128];
        snprintf(name, sizeof name, "bad json %zu rejected with SM_EFORMAT", i);
        int rc = sm_prompts_read_json(path, &ps, &n, &err);
        SM_CHECKF(name, rc == SM_EFORMAT && strstr(err.msg, "prompts.json") && ps == NULL, "rc=%d %s", rc, err.msg);
    }
    SM_CHECK("missing file is SM_EIO", sm_prompts_read_json("/nonexistent/p.json", &ps, &n, &err) == SM_EIO);
    return sm_test_report();
}
