/**
 * The recipe catalogue: every pipeline in this folder, by file name.
 *
 * @since 0.1.0
 */
import type { Pipeline } from "../dsl/index.js"
import bnext from "./bnext.js"
import bornAgain from "./born-again.js"
import byot from "./byot.js"
import cosub from "./cosub.js"
import cudfkd from "./cudfkd.js"
import cyclical from "./cyclical.js"
import deit from "./deit.js"
import distilFolder from "./distil-folder.js"
import folderTeacher from "./folder-teacher.js"
import fsBan from "./fs-ban.js"
import kd from "./kd.js"
import kdVsSwa from "./kd-vs-swa.js"
import landscapeDg from "./landscape-dg.js"
import multiViewDg from "./multi-view-dg.js"
import place from "./place.js"
import procKd from "./proc-kd.js"
import rfs from "./rfs.js"
import sdDropout from "./sd-dropout.js"
import swa from "./swa.js"
import tinymim from "./tinymim.js"
import tst from "./tst.js"
import watermark from "./watermark.js"

export const recipes: Readonly<Record<string, Pipeline.Pipeline>> = {
  kd,
  "born-again": bornAgain,
  deit,
  byot,
  "sd-dropout": sdDropout,
  cosub,
  cyclical,
  swa,
  place,
  "folder-teacher": folderTeacher,
  "distil-folder": distilFolder,
  "kd-vs-swa": kdVsSwa,
  rfs,
  "multi-view-dg": multiViewDg,
  watermark,
  bnext,
  "landscape-dg": landscapeDg,
  "fs-ban": fsBan,
  tst,
  tinymim,
  cudfkd,
  "proc-kd": procKd,
}
