{#-
  Layering policy (jaffle-shop style), checked before every dbt run: a model may only
  depend on its own layer or the layers before it.
    staging      <- sources
    restricted   <- staging, restricted, seeds
    intermediate <- staging, restricted, intermediate, seeds
    marts        <- staging, restricted, intermediate, marts, seeds
  It also lets Airflow build one layer per task (`dbt build --select path:models/<layer>`)
  in order, since no layer needs a later one.
-#}
{% macro enforce_layering() %}
    {% if execute %}
        {% set order = {'staging': 1, 'restricted': 2, 'intermediate': 3, 'marts': 4} %}
        {% set problems = [] %}
        {% for node in graph.nodes.values() if node.resource_type == 'model' and node.package_name == project_name %}
            {% set layer = node.original_file_path.split('/')[1] %}
            {% for parent_id in node.depends_on.nodes %}
                {% set parent = graph.nodes.get(parent_id) %}
                {% if parent and parent.resource_type == 'model' %}
                    {% set parent_layer = parent.original_file_path.split('/')[1] %}
                    {% if order.get(parent_layer, 0) > order.get(layer, 0) %}
                        {% do problems.append(node.name ~ ' (' ~ layer ~ ') depends on ' ~ parent.name ~ ' (' ~ parent_layer ~ '): move it to the ' ~ parent_layer ~ ' layer or depend on earlier layers only') %}
                    {% endif %}
                {% endif %}
            {% endfor %}
        {% endfor %}
        {% if problems %}
            {{ exceptions.raise_compiler_error("Layering policy violated:\n  - " ~ problems | join("\n  - ")) }}
        {% endif %}
    {% endif %}
{% endmacro %}
