"""Publishing a run's figures beside the README (analyse --images): copies, results.md and the
README's table between its markers; a README without markers is left alone."""

from eraskit import publish, safe_write


def fake_figures(folder):
    paths = [folder / "history.png", folder / "confusion.png"]
    for k, path in enumerate(paths):
        safe_write.atomic_write(path, safe_write.write_bytes(b"\x89PNG figure %d" % k))
    return paths


def test_figures_results_and_readme_are_published(trained_run, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{publish.BEGIN}\nold\n{publish.END}\nend\n")
    figures = fake_figures(tmp_path / "figures")
    written = publish.copy_to_images(trained_run, figures, tmp_path / "images")
    assert written == [tmp_path / "images" / "history.png", tmp_path / "images" / "confusion.png",
                       tmp_path / "images" / "results.md", readme]
    for figure in figures:
        assert (tmp_path / "images" / figure.name).read_bytes() == figure.read_bytes()
    text = readme.read_text()
    assert "old" not in text and "| epoch | lr |" in text and text.endswith("end\n")
    assert (tmp_path / "images" / "results.md").read_text() in text


def test_a_readme_without_markers_is_left_alone(trained_run, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    written = publish.copy_to_images(trained_run, fake_figures(tmp_path / "figures"),
                                     tmp_path / "images")
    assert readme not in written and readme.read_text() == "no markers here\n"
